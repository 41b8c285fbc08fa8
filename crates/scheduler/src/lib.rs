//! The built-in scheduler (`songrec run`): hourly fetch, then train, promote and reload.
//! Not built yet.
