use tally::measured;

#[measured]
struct Config {
    port: u16,
}

#[measured]
enum Mode {
    Fast,
}

#[measured]
const LIMIT: u32 = 10;

#[measured]
static NAME: &str = "tally";

#[measured]
mod inner {}

#[measured]
type Alias = u32;

fn main() {
    let _ = (Config { port: 1 }.port, Mode::Fast, LIMIT, NAME, 0 as Alias);
}
