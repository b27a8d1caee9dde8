//! The python front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs).
