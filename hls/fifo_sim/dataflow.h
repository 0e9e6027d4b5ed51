// Dataflow-region macros of the generated top functions (hls/codegen).
//
// The generated top function declares its FIFOs and calls one library function per process:
//
//     hls::stream<ap_uint<8> > s_x("s_x");
//     #pragma HLS STREAM variable=s_x depth=2
//     ERN_FIFO_DEPTH(s_x, 2)
//     ...
//     ERN_DATAFLOW_SCOPE
//     ERN_PROCESS("conv1.mvu", ern::mvu_threshold<...>(s_x, s_y, ..., frames))
//
// Normally (Vitis HLS, and g++ C-simulation) the macros are the plain calls: ERN_PROCESS(name,
// call) is `call;`, the others are empty. With -DERN_CLOCKED_SIM (clocked_stream.h,
// hls/fifo_sim/README.md) every process is a coroutine stepped once per clock cycle over FIFOs
// bounded to the depths of the pragmas, with Vitis HLS timing (II, stalls): it reports cycles
// per frame and stalls per process, and a deadlock stops with the names of the FIFOs involved.
//
// This header must come before <hls_stream.h> (the generated top header includes it first).
#ifndef ERN_DATAFLOW_H
#define ERN_DATAFLOW_H

#ifdef ERN_FIFO_SIM
#error "the threaded ERN_FIFO_SIM mode was replaced by the clocked one: -DERN_CLOCKED_SIM (hls/fifo_sim/README.md)"
#endif

#ifdef ERN_CLOCKED_SIM
#include "clocked_stream.h"
/// Runs the processes of the region in lock step, one clock cycle at a time, where it ends.
#define ERN_DATAFLOW_SCOPE ::ern::clocked::Scope ern_dataflow_scope_;
/// Bounds a FIFO to the depth of its STREAM pragma (ERN_CLOCKED_DEPTHS may override it).
#define ERN_FIFO_DEPTH(S, D) (S).set_depth(D);
/// One dataflow process: a library call, run as a coroutine.
#define ERN_PROCESS(NAME, ...) ern_dataflow_scope_.spawn(NAME, [&]() { __VA_ARGS__; });
#else
#define ERN_DATAFLOW_SCOPE
#define ERN_FIFO_DEPTH(S, D)
#define ERN_PROCESS(NAME, ...) __VA_ARGS__;
#endif

#endif  // ERN_DATAFLOW_H
