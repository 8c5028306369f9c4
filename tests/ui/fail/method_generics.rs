use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Log {
    lines: Vec<String>,
}

#[messages]
impl Log {
    #[message]
    fn push<T: ToString + Send + 'static>(&mut self, line: T) {
        self.lines.push(line.to_string());
    }

    #[message]
    fn first<'a>(&'a self) -> usize {
        self.lines.len()
    }

    #[message]
    fn take<const N: usize>(&mut self) -> usize {
        N
    }

    #[message]
    fn sized(&mut self) -> usize
    where
        Self: Sized,
    {
        self.lines.len()
    }
}

fn main() {}
