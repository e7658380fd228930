//! A plain WASI command: a valid component, but not a drhost plugin.
fn main() {
    println!("I am a command, not a drhost plugin");
}
