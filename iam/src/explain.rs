//! A decision in words: which statement of which policy decided, and why every other
//! statement did not. What `axt iam explain` and `axt iam simulate` print.
//!
//! SKELETON: being written.

use crate::evaluate::Trace;

/// The trace as text, one line per statement, the deciding one first.
pub fn render(trace: &Trace) -> String {
    let _ = trace;
    todo!("helper: explain")
}
