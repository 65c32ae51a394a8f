fn main() {
    std::process::exit(kimigayo_init::main(std::env::args_os().collect()));
}
