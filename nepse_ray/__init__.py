"""nepse-ray: NEPSE market data through an auto-scaling pool of Ray actors."""
