//! A private PostgreSQL cluster built from the server binaries installed on the machine.
//!
//! * [`Cluster::start`] runs `initdb` on first use of a directory, then `pg_ctl start`, with
//!   TCP disabled (`listen_addresses = ''`): clients connect over a unix socket in a short
//!   private directory, so clusters never clash on ports. When the process runs as root, the
//!   server runs as the `postgres` user (PostgreSQL refuses root). A cluster already running
//!   in the directory (started by another process) is attached to instead, and is left
//!   running when the attached handle is dropped.
//! * [`Cluster::connection_string`] is a libpq/tokio-postgres key-value connection string.
//! * [`Cluster::stop`] (or dropping an owning [`Cluster`]) stops the server (`pg_ctl -m fast`).
//! * [`TempCluster`]: a throwaway cluster in a temporary directory for tests, shared by all
//!   tests of one test binary ([`TempCluster::shared`]), each test taking its own database
//!   ([`TempCluster::create_database`]).
//!
//! When the binaries are missing, [`ClusterError::BinariesMissing`] says what to install.
//!
//! ```no_run
//! # fn main() -> Result<(), pgcluster::ClusterError> {
//! let cluster = pgcluster::Cluster::start("/var/lib/exchange/pg")?;
//! let url = cluster.connection_string("postgres");
//! // tokio_postgres::connect(&url, NoTls) ...
//! cluster.stop()?;
//! # Ok(())
//! # }
//! ```

mod binaries;
mod cluster;
mod error;
mod owner;
mod temp;

pub use binaries::Binaries;
pub use cluster::{Cluster, PORT};
pub use error::ClusterError;
pub use temp::{TempCluster, TempDatabase};
