"""Stats, monitoring and presence services: plain classes with injected dependencies."""
