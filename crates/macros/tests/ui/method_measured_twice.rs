use tally::measured;

struct Cache;

#[measured]
impl Cache {
    #[measured]
    fn get(&self) -> u32 {
        1
    }

    #[measured(bogus)]
    fn put(&self) {}

    #[measured(skip)]
    fn len(&self) -> usize {
        0
    }
}

fn main() {
    let _ = (Cache.get(), Cache.put(), Cache.len());
}
