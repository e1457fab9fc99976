//! The file system, checked: the parts of `std::fs` (and, in [`tokio`], of `tokio::fs`)
//! that open, read, write, create, remove, rename, list and canonicalize, with the same
//! signatures. Replace `std::fs::read_to_string(path)` with
//! `antibody::fs::read_to_string(path)` and the agent checks the path against the request
//! first.
//!
//! A path that request input takes out of the folder the code put it in (`..`, an absolute
//! path, a NUL byte, a symbolic link that leads elsewhere) or to a file that holds secrets is
//! a path traversal: in protect mode the call fails with an error of kind
//! [`PermissionDenied`](io::ErrorKind::PermissionDenied) wrapping [`Blocked`], and the layer
//! answers 403. Each line of code also learns the folders and extensions it uses, and reports
//! one it never used before.
//!
//! The agent is the one serving the current request (see [`crate::RequestContext`]);
//! outside a request these functions run unchecked, exactly as `std::fs`.

use std::io;
use std::panic::Location;
use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::context::RequestContext;
use crate::decision::Blocked;
pub use crate::file::FileAccess;

/// Checks `path` for `access` at the caller's caller (every public function here tracks
/// its caller), with the current request's agent.
#[track_caller]
fn checked(access: FileAccess, path: &Path) -> io::Result<()> {
    let Some(context) = RequestContext::current() else {
        return Ok(());
    };
    let Some(agent) = context.agent() else {
        return Ok(());
    };
    let site = Agent::caller_site(Location::caller());
    agent.check_path(access, path, &site).map_err(refused)
}

/// The error a refused access returns: the application's `?` carries it up, and the layer
/// answers 403 whatever the handler makes of it.
fn refused(blocked: Blocked) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, blocked)
}

/// The [`Blocked`] inside an error these functions returned, if the agent refused the
/// access.
pub fn blocked(error: &io::Error) -> Option<&Blocked> {
    error.get_ref()?.downcast_ref::<Blocked>()
}

/// [`std::fs::read`], checked.
#[track_caller]
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    checked(FileAccess::Read, path.as_ref())?;
    std::fs::read(path)
}

/// [`std::fs::read_to_string`], checked.
#[track_caller]
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    checked(FileAccess::Read, path.as_ref())?;
    std::fs::read_to_string(path)
}

/// [`std::fs::write`], checked.
#[track_caller]
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    checked(FileAccess::Write, path.as_ref())?;
    std::fs::write(path, contents)
}

/// [`std::fs::copy`], checked: both paths.
#[track_caller]
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    checked(FileAccess::Read, from.as_ref())?;
    checked(FileAccess::Write, to.as_ref())?;
    std::fs::copy(from, to)
}

/// [`std::fs::rename`], checked: both paths.
#[track_caller]
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::Rename, from.as_ref())?;
    checked(FileAccess::Rename, to.as_ref())?;
    std::fs::rename(from, to)
}

/// [`std::fs::remove_file`], checked.
#[track_caller]
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::Remove, path.as_ref())?;
    std::fs::remove_file(path)
}

/// [`std::fs::remove_dir`], checked.
#[track_caller]
pub fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::Remove, path.as_ref())?;
    std::fs::remove_dir(path)
}

/// [`std::fs::remove_dir_all`], checked.
#[track_caller]
pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::Remove, path.as_ref())?;
    std::fs::remove_dir_all(path)
}

/// [`std::fs::create_dir`], checked.
#[track_caller]
pub fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::CreateFolder, path.as_ref())?;
    std::fs::create_dir(path)
}

/// [`std::fs::create_dir_all`], checked.
#[track_caller]
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    checked(FileAccess::CreateFolder, path.as_ref())?;
    std::fs::create_dir_all(path)
}

/// [`std::fs::read_dir`], checked.
#[track_caller]
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<std::fs::ReadDir> {
    checked(FileAccess::List, path.as_ref())?;
    std::fs::read_dir(path)
}

/// [`std::fs::metadata`], checked.
#[track_caller]
pub fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    checked(FileAccess::Inspect, path.as_ref())?;
    std::fs::metadata(path)
}

/// [`std::fs::canonicalize`], checked.
#[track_caller]
pub fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    checked(FileAccess::Inspect, path.as_ref())?;
    std::fs::canonicalize(path)
}

/// [`std::fs::File`]'s constructors, checked; they return a plain `std::fs::File`.
#[derive(Debug)]
pub enum File {}

impl File {
    /// [`std::fs::File::open`], checked.
    #[track_caller]
    pub fn open(path: impl AsRef<Path>) -> io::Result<std::fs::File> {
        checked(FileAccess::Read, path.as_ref())?;
        std::fs::File::open(path)
    }

    /// [`std::fs::File::create`], checked.
    #[track_caller]
    pub fn create(path: impl AsRef<Path>) -> io::Result<std::fs::File> {
        checked(FileAccess::Write, path.as_ref())?;
        std::fs::File::create(path)
    }
}

/// [`std::fs::OpenOptions`], checked when it opens: as a write when it may change the file,
/// as a read otherwise.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    options: std::fs::OpenOptions,
    writes: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Options with every flag off, as [`std::fs::OpenOptions::new`].
    pub fn new() -> Self {
        OpenOptions {
            options: std::fs::OpenOptions::new(),
            writes: false,
        }
    }

    /// Sets the read flag.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.options.read(read);
        self
    }

    /// Sets the write flag.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.options.write(write);
        self.writes |= write;
        self
    }

    /// Sets the append flag.
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.options.append(append);
        self.writes |= append;
        self
    }

    /// Sets the truncate flag.
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.options.truncate(truncate);
        self.writes |= truncate;
        self
    }

    /// Sets the create flag.
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.options.create(create);
        self.writes |= create;
        self
    }

    /// Sets the create-new flag.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.options.create_new(create_new);
        self.writes |= create_new;
        self
    }

    /// [`std::fs::OpenOptions::open`], checked.
    #[track_caller]
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<std::fs::File> {
        let access = if self.writes {
            FileAccess::Write
        } else {
            FileAccess::Read
        };
        checked(access, path.as_ref())?;
        self.options.open(path)
    }
}

/// The parts of `tokio::fs` that open, read, write, create, remove, rename, list and
/// canonicalize, checked. Each function checks when it is called, in the request that calls
/// it, and returns the future that does the work.
pub mod tokio {
    use std::future::Future;
    use std::io;
    use std::path::{Path, PathBuf};

    use super::{FileAccess, checked};

    /// [`tokio::fs::read`], checked.
    #[track_caller]
    pub fn read(path: impl AsRef<Path>) -> impl Future<Output = io::Result<Vec<u8>>> {
        let check = checked(FileAccess::Read, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::read(path).await
        }
    }

    /// [`tokio::fs::read_to_string`], checked.
    #[track_caller]
    pub fn read_to_string(path: impl AsRef<Path>) -> impl Future<Output = io::Result<String>> {
        let check = checked(FileAccess::Read, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::read_to_string(path).await
        }
    }

    /// [`tokio::fs::write`], checked.
    #[track_caller]
    pub fn write(
        path: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
    ) -> impl Future<Output = io::Result<()>> {
        let check = checked(FileAccess::Write, path.as_ref());
        let path = path.as_ref().to_owned();
        let contents = contents.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::write(path, contents).await
        }
    }

    /// [`tokio::fs::rename`], checked: both paths.
    #[track_caller]
    pub fn rename(
        from: impl AsRef<Path>,
        to: impl AsRef<Path>,
    ) -> impl Future<Output = io::Result<()>> {
        let check = checked(FileAccess::Rename, from.as_ref())
            .and_then(|()| checked(FileAccess::Rename, to.as_ref()));
        let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
        async move {
            check?;
            ::tokio::fs::rename(from, to).await
        }
    }

    /// [`tokio::fs::remove_file`], checked.
    #[track_caller]
    pub fn remove_file(path: impl AsRef<Path>) -> impl Future<Output = io::Result<()>> {
        let check = checked(FileAccess::Remove, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::remove_file(path).await
        }
    }

    /// [`tokio::fs::create_dir_all`], checked.
    #[track_caller]
    pub fn create_dir_all(path: impl AsRef<Path>) -> impl Future<Output = io::Result<()>> {
        let check = checked(FileAccess::CreateFolder, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::create_dir_all(path).await
        }
    }

    /// [`tokio::fs::read_dir`], checked.
    #[track_caller]
    pub fn read_dir(
        path: impl AsRef<Path>,
    ) -> impl Future<Output = io::Result<::tokio::fs::ReadDir>> {
        let check = checked(FileAccess::List, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::read_dir(path).await
        }
    }

    /// [`tokio::fs::canonicalize`], checked.
    #[track_caller]
    pub fn canonicalize(path: impl AsRef<Path>) -> impl Future<Output = io::Result<PathBuf>> {
        let check = checked(FileAccess::Inspect, path.as_ref());
        let path = path.as_ref().to_owned();
        async move {
            check?;
            ::tokio::fs::canonicalize(path).await
        }
    }

    /// [`tokio::fs::File`]'s constructors, checked; they return a plain `tokio::fs::File`.
    #[derive(Debug)]
    pub enum File {}

    impl File {
        /// [`tokio::fs::File::open`], checked.
        #[track_caller]
        pub fn open(path: impl AsRef<Path>) -> impl Future<Output = io::Result<::tokio::fs::File>> {
            let check = checked(FileAccess::Read, path.as_ref());
            let path = path.as_ref().to_owned();
            async move {
                check?;
                ::tokio::fs::File::open(path).await
            }
        }

        /// [`tokio::fs::File::create`], checked.
        #[track_caller]
        pub fn create(
            path: impl AsRef<Path>,
        ) -> impl Future<Output = io::Result<::tokio::fs::File>> {
            let check = checked(FileAccess::Write, path.as_ref());
            let path = path.as_ref().to_owned();
            async move {
                check?;
                ::tokio::fs::File::create(path).await
            }
        }
    }
}
