//! Parameter patterns (`_`, `mut`), fully qualified types, and other return types.
use hookflow::prelude::*;

#[inngest_fn(id = "qualified", event = "clerk/user.updated")]
async fn qualified(
    mut step: hookflow::Step,
    _: ::hookflow::Event<hookflow::clerk::UserUpdated>,
) -> std::result::Result<String, std::io::Error> {
    step = step.clone();
    let _ = step;
    Ok(String::from("done"))
}

#[inngest_fn(id = "deleted", event = "clerk/user.deleted")]
async fn deleted(event: Event<clerk::DeletedUser>) -> hookflow::Result<Option<u32>> {
    let _ = event.data;
    Ok(None)
}

fn main() {
    assert_eq!(qualified::DEF.id, "qualified");
    assert_eq!(deleted::DEF.id, "deleted");
}
