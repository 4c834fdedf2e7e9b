use tally::measured;

#[measured(skip)]
fn free_function() {}

#[measured(skip)]
impl Clock {
    fn now(&self) -> u64 {
        0
    }
}

struct Clock;

fn main() {
    free_function();
    let _ = Clock.now();
}
