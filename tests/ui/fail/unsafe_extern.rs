use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Device {
    register: u32,
}

#[messages]
impl Device {
    #[message]
    unsafe fn poke(&mut self, value: u32) {
        self.register = value;
    }

    #[message]
    extern "C" fn peek(&self) -> u32 {
        self.register
    }
}

fn main() {}
