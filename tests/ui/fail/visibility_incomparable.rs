mod shop {
    pub mod floor {
        use snowglobe::{Actor, messages};

        #[derive(Actor)]
        pub struct Till {
            cash: u32,
        }

        #[messages]
        impl Till {
            #[message]
            pub(super) fn cash(&self) -> u32 {
                self.cash
            }

            #[message]
            pub(in crate::shop::floor) fn open(&mut self) {
                self.cash = 0;
            }
        }
    }
}

fn main() {}
