//! The fluid model of Qiu and Srikant (SIGCOMM 2004, "Modeling and performance analysis of
//! BitTorrent-like peer-to-peer networks"), the reference for open swarms:
//!
//! dx/dt = λ − θx − min(cx, μ(ηx + y + s)),   dy/dt = min(cx, μ(ηx + y + s)) − γy
//!
//! x leechers, y seeds (finished leechers), λ arrivals/s, θ abort rate, γ seed departure
//! rate, μ and c a peer's upload and download rate in files/s, η how much of a leecher's
//! upload is used. `s` is ours: seeds that never leave (an origin seed, in upload units of a
//! peer), 0 in the paper.
//!
//! Steady state, derived from the ODE (dy/dt = 0 and dx/dt = 0): the outflow
//! `f = min(cx, μ(ηx + y + s))` equals γȳ and λ − θx̄. If downloads bind, f = cx̄, so
//! x̄ = λ/(θ + c) and ȳ = cx̄/γ; that holds while cx̄ ≤ μ(ηx̄ + ȳ + s). Otherwise uploads bind:
//! γȳ = μ(ηx̄ + ȳ + s) gives ȳ = μ(ηx̄ + s)/(γ − μ) (γ > μ here, since with γ ≤ μ the
//! download branch always holds), and λ = θx̄ + γȳ gives x̄. With θ = s = 0 this is the
//! paper's ȳ = λ/γ and, by Little's law T = x̄/λ, T = max(1/c, (1/η)(1/μ − 1/γ)).

/// The model's parameters, rates per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fluid {
    pub lambda: f64,
    pub theta: f64,
    pub gamma: f64,
    pub mu: f64,
    pub c: f64,
    pub eta: f64,
    /// Permanent seeds (an origin seed), in units of one peer's upload.
    pub s: f64,
}

/// A steady state: leechers, seeds and (θ = 0) the mean download time x̄/λ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steady {
    pub x: f64,
    pub y: f64,
    pub t: f64,
}

impl Fluid {
    /// Completions per second at state `(x, y)`.
    fn outflow(&self, x: f64, y: f64) -> f64 {
        (self.c * x).min(self.mu * (self.eta * x + y + self.s))
    }

    /// `(dx/dt, dy/dt)`.
    pub fn derivative(&self, x: f64, y: f64) -> (f64, f64) {
        let f = self.outflow(x, y);
        (self.lambda - self.theta * x - f, f - self.gamma * y)
    }

    /// Whether downloads, not uploads, bind in the steady state.
    pub fn download_bound(&self) -> bool {
        let x = self.lambda / (self.theta + self.c);
        let y = self.c * x / self.gamma;
        self.c * x <= self.mu * (self.eta * x + y + self.s)
    }

    /// The steady state (see the module doc for the derivation).
    pub fn steady(&self) -> Steady {
        let (x, y) = if self.download_bound() {
            let x = self.lambda / (self.theta + self.c);
            (x, self.c * x / self.gamma)
        } else {
            let k = self.mu / (self.gamma - self.mu);
            let x =
                (self.lambda - self.gamma * k * self.s) / (self.theta + self.gamma * k * self.eta);
            (x, k * (self.eta * x + self.s))
        };
        Steady {
            x,
            y,
            t: x / self.lambda,
        }
    }

    /// The trajectory from `(x0, y0)` at time 0, by fourth-order Runge–Kutta with step `h`,
    /// one `(t, x, y)` per step up to `until` (the right side is only piecewise smooth, so
    /// `h` should be small against 1/c and 1/γ).
    pub fn trajectory(&self, x0: f64, y0: f64, h: f64, until: f64) -> Vec<(f64, f64, f64)> {
        let steps = (until / h).ceil() as usize;
        let mut out = Vec::with_capacity(steps + 1);
        let (mut x, mut y) = (x0, y0);
        out.push((0.0, x, y));
        for i in 1..=steps {
            let d = |x: f64, y: f64| self.derivative(x.max(0.0), y.max(0.0));
            let k1 = d(x, y);
            let k2 = d(x + h / 2.0 * k1.0, y + h / 2.0 * k1.1);
            let k3 = d(x + h / 2.0 * k2.0, y + h / 2.0 * k2.1);
            let k4 = d(x + h * k3.0, y + h * k3.1);
            x += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
            y += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
            out.push((i as f64 * h, x, y));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(gamma: f64, c: f64) -> Fluid {
        Fluid {
            lambda: 1.0,
            theta: 0.0,
            gamma,
            mu: 1.0 / 32.0,
            c,
            eta: 0.8,
            s: 0.0,
        }
    }

    /// The paper's closed forms, by hand: upload-bound T = (1/η)(1/μ − 1/γ) = (32 − 8)/0.8
    /// = 30 s, ȳ = λ/γ = 8; download-bound T = 1/c = 64 s, ȳ = λ/γ = 32.
    #[test]
    fn steady_state_matches_the_papers_formulas() {
        let up = model(1.0 / 8.0, 1.0 / 8.0);
        assert!(!up.download_bound());
        let s = up.steady();
        assert!(
            (s.t - 30.0).abs() < 1e-9 && (s.y - 8.0).abs() < 1e-9,
            "{s:?}"
        );
        let down = model(1.0 / 32.0, 1.0 / 64.0);
        assert!(down.download_bound());
        let s = down.steady();
        assert!(
            (s.t - 64.0).abs() < 1e-9 && (s.y - 32.0).abs() < 1e-9,
            "{s:?}"
        );
    }

    /// The derivation is checked against the ODE itself: integrating from an empty swarm
    /// reaches the closed-form state (with aborts and an origin seed too), where both
    /// derivatives vanish.
    #[test]
    fn integration_converges_to_the_steady_state() {
        for f in [
            model(1.0 / 8.0, 1.0 / 8.0),
            model(1.0 / 32.0, 1.0 / 64.0),
            Fluid {
                theta: 0.01,
                s: 1.0,
                ..model(1.0 / 16.0, 1.0 / 8.0)
            },
        ] {
            let s = f.steady();
            let (dx, dy) = f.derivative(s.x, s.y);
            assert!(dx.abs() < 1e-9 && dy.abs() < 1e-9, "{f:?}: {dx} {dy}");
            let &(_, x, y) = f.trajectory(0.0, 0.0, 0.05, 3000.0).last().unwrap();
            assert!((x / s.x - 1.0).abs() < 1e-3, "{f:?}: x {x} vs {}", s.x);
            assert!((y / s.y - 1.0).abs() < 1e-3, "{f:?}: y {y} vs {}", s.y);
        }
    }
}
