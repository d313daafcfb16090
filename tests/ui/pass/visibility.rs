//! `<fn>::DEF` follows the function's visibility, and works for functions in a block too.
use hookflow::prelude::*;

mod jobs {
    use hookflow::prelude::*;

    #[inngest_fn(id = "public-job", event = "app/public")]
    pub async fn public_job() -> Result<()> {
        Ok(())
    }

    #[inngest_fn(id = "crate-job", event = "app/crate")]
    pub(crate) async fn crate_job() -> Result<()> {
        Ok(())
    }

    #[inngest_fn(id = "private-job", event = "app/private")]
    async fn private_job() -> Result<()> {
        Ok(())
    }

    pub fn private_def() -> &'static hookflow::FunctionDef {
        private_job::DEF
    }
}

fn main() {
    #[inngest_fn(id = "local-job", event = "app/local")]
    async fn local_job(_step: Step) -> Result<()> {
        Ok(())
    }

    assert_eq!(jobs::public_job::DEF.id, "public-job");
    assert_eq!(jobs::crate_job::DEF.id, "crate-job");
    assert_eq!(jobs::private_def().id, "private-job");
    assert_eq!(local_job::DEF.id, "local-job");
    // The functions themselves are untouched and callable.
    let _future = jobs::public_job();
}
