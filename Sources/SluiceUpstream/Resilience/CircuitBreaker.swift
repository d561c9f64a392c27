import SluiceCore

/// A circuit breaker for one upstream connector: after repeated failures it stops calling the upstream for a while,
/// failing fast instead, and then lets a single probe through to see whether the upstream is back.
///
/// States:
/// - **closed**: calls go through; consecutive upstream failures are counted, a success resets the count.
/// - **open**: entered after ``Configuration/failureThreshold`` consecutive failures; every call fails at once with
///   `SluiceError.upstreamUnavailable` ("circuit open … retrying after …") until ``Configuration/coolDown`` has passed.
/// - **half-open**: after the cool-down the next call is let through as a probe while other calls still fail fast;
///   a successful probe closes the circuit, a failed one opens it for another cool-down.
///
/// Only upstream failures count: errors with code `upstreamUnavailable` or `upstreamTimeout`. Any other outcome
/// (a success, a 404 turned into `notFound`, a bad request) proves the upstream answered and counts as success.
public actor CircuitBreaker {
    /// Thresholds of a circuit breaker.
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open the circuit (default 5).
        public var failureThreshold: Int
        /// How long an open circuit rejects calls before it lets a probe through (default 30 s).
        public var coolDown: Duration

        public init(failureThreshold: Int = 5, coolDown: Duration = .seconds(30)) {
            self.failureThreshold = max(1, failureThreshold)
            self.coolDown = coolDown
        }
    }

    /// The state of the circuit.
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Calls go through; `consecutiveFailures` upstream failures in a row so far.
        case closed(consecutiveFailures: Int)
        /// Calls fail fast until `until`.
        case open(until: ContinuousClock.Instant)
        /// One probe call is allowed (or running); others fail fast.
        case halfOpen(probing: Bool)

        public var description: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
    }

    /// The name shown in messages (the connector's name or its upstream URL without credentials).
    public nonisolated let name: String
    public nonisolated let configuration: Configuration
    private let now: @Sendable () -> ContinuousClock.Instant
    private var storedState: State = .closed(consecutiveFailures: 0)
    private var lastFailure: String?

    /// Creates a closed circuit.
    ///
    /// - Parameter now: the clock reading, injectable so tests can move time forward.
    public init(
        name: String,
        configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.name = name
        self.configuration = configuration
        self.now = now
    }

    /// The current state, moving an open circuit whose cool-down has passed to half-open.
    public var state: State {
        advanceIfCoolDownPassed()
        return storedState
    }

    /// The message of the last upstream failure that was recorded, if any (for a connector's health display).
    public var lastFailureMessage: String? { lastFailure }

    /// Runs `operation` if the circuit allows it and records its outcome.
    ///
    /// ```swift
    /// let result = try await breaker.run { () throws(SluiceError) in
    ///     try await client.fetchRepodata(channel: channel, subdir: "noarch", validators: validators)
    /// }
    /// ```
    /// (Write `throws(SluiceError)` on the closure: Swift 6 does not infer a closure's typed throws.)
    ///
    /// - Throws: `SluiceError.upstreamUnavailable` at once when the circuit is open (or half-open with a probe
    ///   already running); otherwise whatever `operation` throws.
    public func run<T: Sendable>(
        _ operation: @Sendable () async throws(SluiceError) -> T
    ) async throws(SluiceError) -> T {
        try acquirePermission()
        do {
            let value = try await operation()
            recordSuccess()
            return value
        } catch {
            if Self.countsAsFailure(error) {
                recordFailure(error.message)
            } else {
                recordSuccess()
            }
            throw error
        }
    }

    /// Asks to make one call. In half-open state the first caller becomes the probe.
    ///
    /// Pair every successful call with ``recordSuccess()`` or ``recordFailure(_:)``; ``run(_:)`` does that for you.
    /// - Throws: `SluiceError.upstreamUnavailable` when the call must not be made now.
    public func acquirePermission() throws(SluiceError) {
        advanceIfCoolDownPassed()
        switch storedState {
        case .closed:
            return
        case .halfOpen(probing: false):
            storedState = .halfOpen(probing: true)
            return
        case .halfOpen(probing: true):
            throw SluiceError(
                .upstreamUnavailable,
                "\(name): circuit open after repeated upstream failures; a probe request is checking the upstream now.")
        case .open(let until):
            let remaining = until - now()
            throw SluiceError(
                .upstreamUnavailable,
                "\(name): circuit open after \(configuration.failureThreshold) consecutive upstream failures, "
                    + "retrying after \(Self.format(remaining))"
                    + (lastFailure.map { " (last failure: \($0))" } ?? "") + ".")
        }
    }

    /// Records that a call reached the upstream and got a usable answer: the circuit closes.
    public func recordSuccess() {
        storedState = .closed(consecutiveFailures: 0)
    }

    /// Records an upstream failure: counts it, opening the circuit at the threshold (or at once after a failed probe).
    public func recordFailure(_ message: String? = nil) {
        if let message { lastFailure = message }
        switch storedState {
        case .closed(let failures):
            let count = failures + 1
            storedState =
                count >= configuration.failureThreshold
                ? .open(until: now() + configuration.coolDown) : .closed(consecutiveFailures: count)
        case .halfOpen, .open:
            storedState = .open(until: now() + configuration.coolDown)
        }
    }

    /// Whether an error means the upstream failed (and so counts toward opening the circuit).
    public static func countsAsFailure(_ error: SluiceError) -> Bool {
        error.code == .upstreamUnavailable || error.code == .upstreamTimeout
    }

    private func advanceIfCoolDownPassed() {
        if case .open(let until) = storedState, now() >= until {
            storedState = .halfOpen(probing: false)
        }
    }

    private static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds < 1 ? "less than 1 s" : "\(Int(seconds.rounded(.up))) s"
    }
}
