//! Black-box tests of the HTTP service: the real router on a random port, real HTTP.

mod admin;
mod contract;
mod end_to_end;
mod guards;
mod parsing;
mod pipeline;
mod reload;
mod slow_clients;
mod support;
