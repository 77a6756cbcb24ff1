// SPDX-License-Identifier: GPL-2.0

//! Kernel interfaces that `kernel::bindings` lacks: libnvdimm, badblocks and
//! the C shim, plus typed copies of cast macros (`BLK_FEAT_*`, `REQ_*`,
//! `BLK_STS_*`).
//!
//! Generated at build time by `tools/bindgen.sh` from `bindings_helper.h`
//! against the target kernel's headers, so every layout matches that kernel.

#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

include!("bindings_generated.rs");
