use snowglobe::{Actor, DynMessage, messages};

#[derive(Actor)]
#[actor(msg = DynMessage<Self>)]
struct Cache<T> {
    entries: Vec<T>,
}

#[messages]
impl<T: Send + 'static> Cache<T> {
    #[message]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn main() {}
