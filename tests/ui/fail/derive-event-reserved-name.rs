use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, hookflow::Event)]
#[event(name = "clerk/user.created")]
struct MyUserCreated {
    id: String,
}

fn main() {}
