use snowglobe::messages;

#[messages]
struct Till {
    cash: u32,
}

fn main() {}
