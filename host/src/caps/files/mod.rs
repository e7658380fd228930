//! `files`: SKELETON — replaced by the files work.

use wasmtime::component::Resource;

use crate::bindings::drhost::runbook::files::{Entry, Host, HostDirectory};
use crate::caps::blob::Blob;
use crate::caps::kit::{not_built, Answer};
use crate::sandbox::RunState;

/// The directory of one label.
pub struct Directory;

impl Host for RunState {}

impl HostDirectory for RunState {
    async fn open(&mut self, _label: String) -> Answer<Resource<Directory>> {
        Err(not_built("files.open"))
    }
    async fn list(&mut self, _d: Resource<Directory>, _glob: String) -> Answer<Vec<Entry>> {
        Err(not_built("files.list"))
    }
    async fn stat(&mut self, _d: Resource<Directory>, _path: String) -> Answer<Entry> {
        Err(not_built("files.stat"))
    }
    async fn read(&mut self, _d: Resource<Directory>, _path: String) -> Answer<Resource<Blob>> {
        Err(not_built("files.read"))
    }
    async fn write(
        &mut self,
        _d: Resource<Directory>,
        _path: String,
        _data: Resource<Blob>,
        _mode: u32,
    ) -> Answer<Entry> {
        Err(not_built("files.write"))
    }
    async fn remove(&mut self, _d: Resource<Directory>, _path: String) -> Answer<bool> {
        Err(not_built("files.remove"))
    }
    async fn drop(&mut self, d: Resource<Directory>) -> wasmtime::Result<()> {
        self.table.delete(d)?;
        Ok(())
    }
}
