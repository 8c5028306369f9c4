use std::borrow::Cow;

use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Log {
    lines: Vec<String>,
}

#[messages]
impl Log {
    #[message]
    fn push(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }

    #[message]
    fn extend(&mut self, lines: &mut Vec<String>) {
        self.lines.append(lines);
    }

    #[message]
    fn maybe(&mut self, line: Option<&str>, tag: Cow<'_, str>) {
        self.lines.extend(line.map(|l| format!("{tag}{l}")));
    }

    #[message]
    fn display(&mut self, line: impl ToString) {
        self.lines.push(line.to_string());
    }
}

fn main() {}
