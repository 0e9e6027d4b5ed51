# Block design for one ERN accelerator on a Zynq board: the processing system (board preset,
# one PL clock, an HP slave port), an AXI DMA (simple mode, no scatter-gather, 26-bit length)
# whose MM2S stream feeds the HLS core and whose S2MM stream takes its output, AXI-Lite control
# of both from the PS's general-purpose master. Synthesis, implementation, bitstream; the .bit
# and the .hwh are copied under one base name.
#
# One flow for every board, as PYNQ's board scripts do; what differs between the processing
# systems is in ps_<ps>.tcl beside this file (ps_zynq7.tcl: PYNQ-Z1/Z2; ps_zynqmp.tcl: Zynq
# UltraScale+), which defines `ern_ps_create`. overlay/build.py passes the board's figures
# (host/boards.py).
#
# Written for Vivado 2022.2 (processing_system7 5.5, zynq_ultra_ps_e, axi_dma 7.1; the same
# commands exist in 2020.2 .. 2023.2). Not run in this repository's CI (no Vivado there): see
# overlay/README.md.
#
# Usage (overlay/build.py does this):
#   vivado -mode batch -source overlay/ern_overlay.tcl -tclargs \
#     <model> <ip_repo> <vlnv> <out_dir> <work_dir> [part] [board_part] [jobs] [fclk_mhz] [axis_bits] \
#     [ps] [hp_bits] [addr_bits]
#
# Outputs in <out_dir>: <model>.bit, <model>.hwh (what pynq.Overlay loads), utilization.rpt,
# timing_summary.rpt, overlay_summary.txt (wns_ns=..., the first line says PASS or FAIL).

proc usage {} {
    puts "usage: vivado -mode batch -source ern_overlay.tcl -tclargs <model> <ip_repo> <vlnv> <out_dir> <work_dir> \[part\] \[board_part\] \[jobs\] \[fclk_mhz\] \[axis_bits\] \[ps\] \[hp_bits\] \[addr_bits\]"
    exit 2
}

if {[llength $argv] < 5} { usage }
set model      [lindex $argv 0]
set ip_repo    [file normalize [lindex $argv 1]]
set vlnv       [lindex $argv 2]
set out_dir    [file normalize [lindex $argv 3]]
set work_dir   [file normalize [lindex $argv 4]]
set part       [expr {[llength $argv] > 5 ? [lindex $argv 5] : "xc7z020clg400-1"}]
set board_part [expr {[llength $argv] > 6 ? [lindex $argv 6] : "tul.com.tw:pynq-z2:part0:1.0"}]
set jobs       [expr {[llength $argv] > 7 ? [lindex $argv 7] : 4}]
set fclk_mhz   [expr {[llength $argv] > 8 ? [lindex $argv 8] : 100}]
set axis_bits  [expr {[llength $argv] > 9 ? [lindex $argv 9] : 64}]
set ps_kind    [expr {[llength $argv] > 10 ? [lindex $argv 10] : "zynq7"}]
set hp_bits    [expr {[llength $argv] > 11 ? [lindex $argv 11] : 64}]
set addr_bits  [expr {[llength $argv] > 12 ? [lindex $argv 12] : 32}]

set ps_script [file join [file dirname [file normalize [info script]]] ps_${ps_kind}.tcl]
if {![file exists $ps_script]} {
    puts "ERROR: ern_overlay: no processing-system script $ps_script (ps must be zynq7 or zynqmp)"
    exit 2
}
source $ps_script

set proj "ern_${model}"
set bd   "ern_bd"
puts "ern_overlay: model=$model vlnv=$vlnv ip_repo=$ip_repo part=$part board=$board_part ps=$ps_kind fclk=${fclk_mhz}MHz axis=${axis_bits}b hp=${hp_bits}b addr=${addr_bits}b"

# ---- project --------------------------------------------------------------------------------
file mkdir $out_dir
create_project -force $proj $work_dir -part $part
if {[llength [get_board_parts -quiet $board_part]] == 0} {
    puts "ERROR: ern_overlay: board part $board_part is not installed: add its board files to Vivado's board repository (e.g. set_param board.repoPaths) and retry"
    exit 1
}
set_property board_part $board_part [current_project]
set_property ip_repo_paths [list $ip_repo] [current_project]
update_ip_catalog -rebuild
if {[llength [get_ipdefs -quiet $vlnv]] == 0} {
    puts "ERROR: ern_overlay: IP $vlnv not found in $ip_repo (export it with vitis_hls: export_design -format ip_catalog)"
    exit 1
}

create_bd_design $bd

# ---- processing system (ps_<ps>.tcl): board preset, the PL clock, the control master, HP0 ----
set ps [ern_ps_create $fclk_mhz $hp_bits]

# ---- AXI DMA: simple mode, 26-bit length, memory map as wide as the HP port, core-wide streams --
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0]
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {1} \
    CONFIG.c_m_axi_mm2s_data_width $hp_bits \
    CONFIG.c_m_axis_mm2s_tdata_width $axis_bits \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_m_axi_s2mm_data_width $hp_bits \
    CONFIG.c_s_axis_s2mm_tdata_width $axis_bits \
    CONFIG.c_s2mm_burst_size {16} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_include_s2mm_dre {0} \
    CONFIG.c_addr_width $addr_bits \
] $dma

# ---- the accelerator ------------------------------------------------------------------------
set core_name "[lindex [split $vlnv :] 2]_0"
set core [create_bd_cell -type ip -vlnv $vlnv $core_name]
set core_ctrl [get_bd_intf_pins -of_objects $core -filter {MODE == Slave && VLNV =~ "xilinx.com:interface:aximm_rtl:*"}]
set core_in   [get_bd_intf_pins -of_objects $core -filter {MODE == Slave && VLNV =~ "xilinx.com:interface:axis_rtl:*"}]
set core_out  [get_bd_intf_pins -of_objects $core -filter {MODE == Master && VLNV =~ "xilinx.com:interface:axis_rtl:*"}]
foreach {what pins} [list "AXI-Lite control" $core_ctrl "AXI-Stream input" $core_in "AXI-Stream output" $core_out] {
    if {[llength $pins] != 1} {
        puts "ERROR: ern_overlay: $vlnv must have exactly one $what interface, found [llength $pins] ($pins)"
        exit 1
    }
}
foreach pins [list $core_in $core_out] {
    set bytes [get_property CONFIG.TDATA_NUM_BYTES $pins]
    if {$bytes ne "" && $bytes * 8 != $axis_bits} {
        puts "ERROR: ern_overlay: $pins is [expr {$bytes * 8}] bits wide, the DMA streams are $axis_bits bits"
        exit 1
    }
}

# ---- AXI-Lite control (PS master) and memory (HP0), by connection automation ----------------
# The automation adds an AXI Interconnect for control, a SmartConnect to HP0, the reset block,
# and clocks everything from the PS's PL clock.
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master {Auto} Clk_slave {Auto} \
    Clk_xbar {Auto} Master $ern_ps(control) Slave {/axi_dma_0/S_AXI_LITE} \
    ddr_seg {Auto} intc_ip {New AXI Interconnect} master_apm {0}] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master {Auto} Clk_slave {Auto} \
    Clk_xbar {Auto} Master $ern_ps(control) Slave $core_ctrl \
    ddr_seg {Auto} intc_ip {Auto} master_apm {0}] $core_ctrl
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master {Auto} Clk_slave {Auto} \
    Clk_xbar {Auto} Master {/axi_dma_0/M_AXI_MM2S} Slave $ern_ps(memory) \
    ddr_seg {Auto} intc_ip {Auto} master_apm {0}] [get_bd_intf_pins $ern_ps(memory)]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master {Auto} Clk_slave {Auto} \
    Clk_xbar {Auto} Master {/axi_dma_0/M_AXI_S2MM} Slave $ern_ps(memory) \
    ddr_seg {Auto} intc_ip {Auto} master_apm {0}] [get_bd_intf_pins axi_dma_0/M_AXI_S2MM]

# ---- streams: MM2S -> core -> S2MM ----------------------------------------------------------
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] $core_in
connect_bd_intf_net $core_out [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]

# Clock and reset of the core if automation left them open (all on the PS's PL clock).
set fclk [get_bd_pins $ern_ps(clock)]
set resetn [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ "xilinx.com:ip:proc_sys_reset:*"}] -filter {NAME == peripheral_aresetn}]
foreach pin [get_bd_pins -of_objects $core -filter {TYPE == clk}] {
    if {[llength [get_bd_nets -quiet -of_objects $pin]] == 0} { connect_bd_net $fclk $pin }
}
foreach pin [get_bd_pins -of_objects $core -filter {TYPE == rst}] {
    if {[llength [get_bd_nets -quiet -of_objects $pin]] == 0} { connect_bd_net [lindex $resetn 0] $pin }
}
foreach pin [get_bd_pins -of_objects $dma -filter {TYPE == clk}] {
    if {[llength [get_bd_nets -quiet -of_objects $pin]] == 0} { connect_bd_net $fclk $pin }
}

assign_bd_address
validate_bd_design
save_bd_design

# ---- wrapper, bitstream -----------------------------------------------------------------------
set wrapper [make_wrapper -files [get_files $bd.bd] -top]
add_files -norecurse $wrapper
set_property top ${bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    puts "ERROR: ern_overlay: implementation did not finish: see $work_dir/$proj.runs/impl_1/runme.log"
    exit 1
}

open_run impl_1
report_utilization -file $out_dir/utilization.rpt
report_timing_summary -file $out_dir/timing_summary.rpt
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]

set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd}_wrapper.bit]
set hwh [lindex [glob -nocomplain $work_dir/$proj.gen/sources_1/bd/$bd/hw_handoff/$bd.hwh \
                                    $work_dir/$proj.srcs/sources_1/bd/$bd/hw_handoff/$bd.hwh] 0]
if {![file exists $bit] || $hwh eq ""} {
    puts "ERROR: ern_overlay: bitstream ($bit) or hardware handoff ($bd.hwh) missing"
    exit 1
}
file copy -force $bit [file join $out_dir $model.bit]
file copy -force $hwh [file join $out_dir $model.hwh]

set verdict [expr {$wns >= 0 ? "PASS" : "FAIL"}]
set summary [open [file join $out_dir overlay_summary.txt] w]
puts $summary "timing=$verdict wns_ns=$wns fclk_mhz=$fclk_mhz part=$part ps=$ps_kind"
puts $summary "bit=[file join $out_dir $model.bit]"
puts $summary "hwh=[file join $out_dir $model.hwh]"
puts $summary "vivado=[version -short]"
close $summary
puts "ern_overlay: wrote $out_dir/$model.bit and $model.hwh (timing $verdict, WNS $wns ns)"
if {$wns < 0} { exit 3 }
exit 0
