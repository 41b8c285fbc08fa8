/// Large blocks fault in 2 MiB at a time (see `songrec_model::memory`).
#[global_allocator]
static ALLOCATOR: songrec_model::memory::HugeBlocks = songrec_model::memory::HugeBlocks;

fn main() -> std::process::ExitCode {
    songrec::cli::main()
}
