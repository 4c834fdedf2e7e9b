#[tally::measured]
trait Store {
    fn get(&self, key: &str) -> Option<String>;

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

fn main() {}
