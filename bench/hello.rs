// What spawning any Rust program costs on this machine (`make bench` compares the CLI with it
// and with /bin/true): std's start-up and exit, and printing one line, as `portpool --version`.
fn main() {
    println!("portpool 0.0.0");
}
