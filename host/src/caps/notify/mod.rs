//! `notify`: SKELETON — replaced by the notify work.

use crate::bindings::drhost::runbook::notify::{Host, Notice};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn post(&mut self, _label: String, _notice: Notice) -> Answer<()> {
        Err(crate::caps::kit::not_built("notify.post"))
    }
}
