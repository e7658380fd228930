//! `compose`: SKELETON — replaced by the compose work.

use wasmtime::component::Resource;

use crate::bindings::drhost::runbook::compose::{Host, HostProject, ServiceState};
use crate::caps::kit::{not_built, Answer};
use crate::sandbox::RunState;

/// One compose project.
pub struct Project;

impl Host for RunState {}

impl HostProject for RunState {
    async fn open(&mut self, _label: String) -> Answer<Resource<Project>> {
        Err(not_built("compose.open"))
    }
    async fn ps(&mut self, _p: Resource<Project>) -> Answer<Vec<ServiceState>> {
        Err(not_built("compose.ps"))
    }
    async fn up(&mut self, _p: Resource<Project>, _services: Vec<String>) -> Answer<Vec<ServiceState>> {
        Err(not_built("compose.up"))
    }
    async fn down(&mut self, _p: Resource<Project>, _volumes: bool) -> Answer<()> {
        Err(not_built("compose.down"))
    }
    async fn restart(&mut self, _p: Resource<Project>, _services: Vec<String>) -> Answer<Vec<ServiceState>> {
        Err(not_built("compose.restart"))
    }
    async fn logs(&mut self, _p: Resource<Project>, _service: String, _tail: u32) -> Answer<Vec<String>> {
        Err(not_built("compose.logs"))
    }
    async fn drop(&mut self, p: Resource<Project>) -> wasmtime::Result<()> {
        self.table.delete(p)?;
        Ok(())
    }
}
