fn main() {
    std::process::exit(devloop::main());
}
