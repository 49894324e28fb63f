//! The `qcc` binary.

fn main() {
    // Panics are reported by the driver as internal errors; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    std::process::exit(compiler::driver::main_with_args(std::env::args_os()));
}
