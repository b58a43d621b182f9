"""What every scenario shares: the processes it runs, the simulator, the sizes, the arithmetic."""
