# Zynq-7000 processing system for overlay/ern_overlay.tcl (sourced by it; PYNQ-Z1/Z2).
#
# ern_ps_create fclk_mhz hp_bits: the PS7 with the board preset, FCLK0 at fclk_mhz, M_AXI_GP0
# (control) and S_AXI_HP0 (hp_bits wide, the DMA's memory side) on. Fills ::ern_ps with the
# paths the flow script connects: control (master), memory (slave), clock (the PL clock pin).

proc ern_ps_create {fclk_mhz hp_bits} {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 processing_system7_0]
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps
    set_property -dict [list \
        CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fclk_mhz \
        CONFIG.PCW_EN_CLK0_PORT {1} \
        CONFIG.PCW_EN_RST0_PORT {1} \
        CONFIG.PCW_USE_M_AXI_GP0 {1} \
        CONFIG.PCW_USE_S_AXI_HP0 {1} \
        CONFIG.PCW_S_AXI_HP0_DATA_WIDTH $hp_bits \
    ] $ps
    set ::ern_ps(control) /processing_system7_0/M_AXI_GP0
    set ::ern_ps(memory)  /processing_system7_0/S_AXI_HP0
    set ::ern_ps(clock)   processing_system7_0/FCLK_CLK0
    return $ps
}
