//! Extra consumers of what the flow stage produces (the SQLite store, the
//! mitigation engine, metrics, ...). Each one is a [`Sink`] added to
//! [`crate::analyze::Options::sinks`]; the flow stage calls every hook in
//! order after EVE has been written, so a sink may add its own EVE events
//! (an action it took, say) through `eve`, and those reach the evidence log
//! like alerts do when it is tapped: write with [`EveWriter::raw`] and then
//! call [`EveWriter::tap_last`].

use vigil_core::{FlowRecord, Nanos, ShedAggregate};
use vigil_correlate::Incident;
use vigil_detect::Emitted;

use crate::eve::EveWriter;

/// Every hook has a no-op default: implement what you need.
pub trait Sink: Send {
    /// A finished flow.
    fn flow(&mut self, _r: &FlowRecord) {}
    /// Flows the table shed, summed per destination.
    fn aggregate(&mut self, _a: &ShedAggregate) {}
    /// An alert (a new one or an update of one already raised).
    fn alert(&mut self, _a: &Emitted, _eve: &mut EveWriter) {}
    /// An incident that was opened or grew; `rank` is set in the final,
    /// ranked list written at the end of a run.
    fn incident(&mut self, _i: &Incident, _rank: Option<usize>, _eve: &mut EveWriter) {}
    /// Called after every batch with the capture time reached (or, for live
    /// sources, the current time), for timers such as TTLs.
    fn tick(&mut self, _now: Nanos, _eve: &mut EveWriter) {}
    /// The input ended (or the sensor is stopping): flush.
    ///
    /// # Errors
    /// What could not be written; the run reports it and exits non-zero.
    fn finish(&mut self, _now: Nanos, _eve: &mut EveWriter) -> anyhow::Result<()> {
        Ok(())
    }
}
