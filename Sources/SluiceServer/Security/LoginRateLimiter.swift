/// Counts failed sign-ins per client address and per user name, and says when a client must wait.
///
/// A sliding window: once `maxFailuresPerAddress` failures from one address (or `maxFailuresPerUser` for one user
/// name, from any address) fall within ``Configuration/window``, further attempts are refused until the oldest of
/// them leaves the window — even with the right password, so guessing cannot continue. A successful sign-in clears
/// only its own address's count: failures another address piled up for the same user stay.
///
/// A value type owned by ``AccessControl`` (an actor), so it needs no lock. At most
/// ``Configuration/maximumTrackedKeys`` addresses and names are tracked; the stalest are dropped first.
public struct LoginRateLimiter: Sendable {
    /// Limits of the rate limiter.
    public struct Configuration: Sendable {
        /// Failures from one client address within ``window`` before it must wait. Default 20.
        public var maxFailuresPerAddress: Int
        /// Failures for one user name within ``window`` before it must wait. Default 10.
        public var maxFailuresPerUser: Int
        /// The sliding window. Default five minutes.
        public var window: Duration
        /// How many addresses and user names are remembered at most. Default 10,000.
        public var maximumTrackedKeys: Int

        /// Creates a configuration; every parameter defaults to the documented default.
        public init(
            maxFailuresPerAddress: Int = 20, maxFailuresPerUser: Int = 10, window: Duration = .seconds(300),
            maximumTrackedKeys: Int = 10_000
        ) {
            self.maxFailuresPerAddress = maxFailuresPerAddress
            self.maxFailuresPerUser = maxFailuresPerUser
            self.window = window
            self.maximumTrackedKeys = maximumTrackedKeys
        }
    }

    enum Key: Hashable, Sendable {
        case address(String)
        case user(String)
    }

    let configuration: Configuration
    private var failures: [Key: [ContinuousClock.Instant]] = [:]

    /// Creates an empty limiter.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The seconds to wait before another attempt from `address` for `user`, or nil when it may proceed.
    public mutating func retryAfter(address: String?, user: String?, now: ContinuousClock.Instant = .now) -> Int? {
        var wait: Duration?
        for (key, limit) in keys(address: address, user: user) {
            guard let entries = prune(key, now: now), entries.count >= limit, let oldest = entries.first else {
                continue
            }
            let remaining = oldest + configuration.window - now
            wait = max(wait ?? .zero, remaining)
        }
        guard let wait else { return nil }
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        return max(1, Int(seconds.rounded(.up)))
    }

    /// Counts a failed attempt from `address` for `user`. Returns true when this failure reached a limit (the moment
    /// a client becomes blocked; worth one event in the log).
    @discardableResult
    public mutating func recordFailure(address: String?, user: String?, now: ContinuousClock.Instant = .now) -> Bool {
        var reached = false
        for (key, limit) in keys(address: address, user: user) {
            var entries = prune(key, now: now) ?? []
            entries.append(now)
            if entries.count == limit { reached = true }
            failures[key] = entries
        }
        if failures.count > configuration.maximumTrackedKeys {
            evictStalest()
        }
        return reached
    }

    /// A successful sign-in from `address`: clears that address's failures (and nothing else).
    public mutating func recordSuccess(address: String?) {
        guard let address else { return }
        failures[.address(address)] = nil
    }

    /// How many failures are counted for an address or user name now (for tests and diagnostics).
    func failureCount(address: String? = nil, user: String? = nil, now: ContinuousClock.Instant = .now) -> Int {
        let key: Key? = address.map { .address($0) } ?? user.map { .user($0.lowercased()) }
        guard let key else { return 0 }
        return failures[key]?.filter { now - $0 < configuration.window }.count ?? 0
    }

    private func keys(address: String?, user: String?) -> [(Key, Int)] {
        var result: [(Key, Int)] = []
        if let address { result.append((.address(address), configuration.maxFailuresPerAddress)) }
        if let user, !user.isEmpty { result.append((.user(user.lowercased()), configuration.maxFailuresPerUser)) }
        return result
    }

    /// Drops the failures of `key` that left the window; returns what is left (nil when nothing).
    private mutating func prune(_ key: Key, now: ContinuousClock.Instant) -> [ContinuousClock.Instant]? {
        guard var entries = failures[key] else { return nil }
        entries.removeAll { now - $0 >= configuration.window }
        failures[key] = entries.isEmpty ? nil : entries
        return entries.isEmpty ? nil : entries
    }

    private mutating func evictStalest() {
        let excess = failures.count - configuration.maximumTrackedKeys
        guard excess > 0 else { return }
        let stalest = failures.sorted { ($0.value.last ?? .now) < ($1.value.last ?? .now) }.prefix(excess)
        for (key, _) in stalest { failures[key] = nil }
    }
}
