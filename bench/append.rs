// The floor of a command-line change (`make bench` compares `portpool register` with it): a Rust
// hello world that also makes one durable append, as the floor of a core change does it (flock
// the lock file, append one line, unlock, fdatasync), then prints one line.
// Usage: append REGISTRY (appends to REGISTRY.floor, locking REGISTRY.floor.lock).
use std::fs::OpenOptions;
use std::io::Write;

const LINE: &[u8] = br#"{"leases":[{"name":"worker-1","port":9000,"protocol":"tcp","mode":"pool","pool":"default","created":1795451991}]}
"#;

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: append REGISTRY");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(format!("{path}.floor.lock"))?;
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(format!("{path}.floor"))?;
    lock.lock()?;
    file.write_all(LINE)?;
    lock.unlock()?;
    file.sync_data()?;
    println!("9000");
    Ok(())
}
