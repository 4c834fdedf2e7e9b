use tally::measured;

#[measured(name = "other")]
fn renamed() {}

#[measured(skip = true)]
fn skip_with_value() {}

#[measured(skip, skip)]
fn skip_twice() {}

fn main() {
    renamed();
    skip_with_value();
    skip_twice();
}
