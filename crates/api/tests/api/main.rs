//! Black-box tests of the HTTP service: the real router on a random port, real HTTP.

mod contract;
mod end_to_end;
mod guards;
mod parsing;
mod pipeline;
mod reload;
mod support;
