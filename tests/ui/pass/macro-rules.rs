//! Functions stamped out by a `macro_rules!`: the generated locals must not mix hygiene with
//! the macro's tokens.
use hookflow::prelude::*;

macro_rules! jobs {
    ($($name:ident = $id:literal on $event:literal),* $(,)?) => {
        $(
            #[inngest_fn(id = $id, event = $event, retries = 1)]
            async fn $name(event: Event<Json>, step: Step) -> Result<()> {
                let _ = (event.data, step);
                Ok(())
            }
        )*
    };
}

jobs!(first_job = "first-job" on "app/first", second_job = "second-job" on "clerk/user.created");

fn main() {
    assert_eq!(first_job::DEF.id, "first-job");
    assert_eq!(second_job::DEF.options.retries, Some(1));
}
