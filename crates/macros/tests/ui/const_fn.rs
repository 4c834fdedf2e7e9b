use tally::measured;

#[measured]
const fn square(x: u32) -> u32 {
    x * x
}

struct Grid;

#[measured]
impl Grid {
    const fn width() -> u32 {
        8
    }

    fn area(&self) -> u32 {
        Self::width() * square(8)
    }
}

fn main() {
    let _ = Grid.area();
}
