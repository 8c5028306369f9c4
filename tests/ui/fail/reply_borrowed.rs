use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Log {
    lines: Vec<String>,
}

#[messages]
impl Log {
    #[message]
    fn lines(&self) -> impl Iterator<Item = String> {
        self.lines.clone().into_iter()
    }

    #[message]
    fn last(&self) -> Option<&String> {
        self.lines.last()
    }
}

fn main() {}
