/// Lets one holder at a time through, in arrival order, without blocking a thread while others wait.
///
/// `SQLMetadataStore` passes its SQLite write transactions through one gate: SQLite's busy handler sleeps on the
/// thread that runs the statement, so writers waiting for the database lock could otherwise occupy every thread of
/// the thread pool while the transaction that holds the lock waits for a thread to commit.
actor WriteGate {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once every earlier caller has finished.
    func withGate<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
