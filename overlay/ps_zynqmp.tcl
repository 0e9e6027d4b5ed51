# Zynq UltraScale+ MPSoC processing system for overlay/ern_overlay.tcl (sourced by it; KV260,
# Ultra96-V2, AUP-ZU3, ZCU104).
#
# ern_ps_create fclk_mhz hp_bits: zynq_ultra_ps_e (the newest version in the IP catalog) with the
# board preset; pl_clk0 at fclk_mhz; M_AXI_HPM0_FPD on for control (HPM1_FPD and HPM0_LPD off, so
# no master is left without a clock); S_AXI_HP0_FPD on, hp_bits wide, for the DMA's memory side.
# In the PS's configuration GP0 is HPM0_FPD, GP1 HPM1_FPD, GP2 HPM0_LPD (masters) and S_AXI_GP2
# is HP0_FPD (PG201). Fills ::ern_ps like ps_zynq7.tcl.

proc ern_ps_create {fclk_mhz hp_bits} {
    set vlnv [lindex [lsort [get_ipdefs -filter {NAME == zynq_ultra_ps_e}]] end]
    if {$vlnv eq ""} {
        puts "ERROR: ern_overlay: no zynq_ultra_ps_e in the IP catalog (a Vivado install without Zynq UltraScale+ support?)"
        exit 1
    }
    set ps [create_bd_cell -type ip -vlnv $vlnv zynq_ultra_ps_e_0]
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
    set_property -dict [list \
        CONFIG.PSU__FPGA_PL0_ENABLE {1} \
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $fclk_mhz \
        CONFIG.PSU__USE__M_AXI_GP0 {1} \
        CONFIG.PSU__USE__M_AXI_GP1 {0} \
        CONFIG.PSU__USE__M_AXI_GP2 {0} \
        CONFIG.PSU__USE__S_AXI_GP2 {1} \
        CONFIG.PSU__SAXIGP2__DATA_WIDTH $hp_bits \
    ] $ps
    set ::ern_ps(control) /zynq_ultra_ps_e_0/M_AXI_HPM0_FPD
    set ::ern_ps(memory)  /zynq_ultra_ps_e_0/S_AXI_HP0_FPD
    set ::ern_ps(clock)   zynq_ultra_ps_e_0/pl_clk0
    return $ps
}
