use snowglobe::{Actor, Context, messages};

#[derive(Actor)]
struct Till {
    cash: u32,
}

#[messages]
impl Till {
    #[message]
    fn add(&mut self, ctx: &mut Context<Self>, amount: u32, again: &Context<Self>) {
        let _ = (ctx.id(), again.id());
        self.cash += amount;
    }
}

fn main() {}
