import NIOCore

/// Hands the chunks of an upstream download to the one response that streams them, one chunk at a time.
///
/// The producer (the download's `onChunk`) waits in ``send(_:)`` until the consumer (the response body writer) has
/// taken the chunk, so at most one chunk is held here: memory stays flat and a slow client slows the download, as
/// the HTTP client's back-pressure intends. When the consumer goes away (``detach()``), ``send(_:)`` throws, which
/// tells the download to stop calling it and carry on filling the cache.
actor ChunkRelay {
    /// What the consumer receives next.
    enum Event: Sendable {
        case chunk(ByteBuffer)
        /// The download ended and was verified.
        case finished
        /// The download failed (nothing was cached).
        case failed(any Error)
    }

    struct Detached: Error {}

    private var pending: ByteBuffer?
    private var terminal: Event?
    private var waitingConsumer: CheckedContinuation<Event, Never>?
    private var waitingProducer: CheckedContinuation<Void, any Error>?
    private var detached = false

    /// Offers a chunk and waits until the consumer took it.
    /// - Throws: ``Detached`` when the consumer is gone.
    func send(_ chunk: ByteBuffer) async throws {
        if detached { throw Detached() }
        if let consumer = waitingConsumer {
            waitingConsumer = nil
            consumer.resume(returning: .chunk(chunk))
            return
        }
        pending = chunk
        try await withCheckedThrowingContinuation { waitingProducer = $0 }
    }

    /// Ends the stream: `error` nil when the download was verified and cached.
    func finish(_ error: (any Error)?) {
        let event: Event = error.map { .failed($0) } ?? .finished
        if let consumer = waitingConsumer {
            waitingConsumer = nil
            consumer.resume(returning: event)
        } else {
            terminal = event
        }
    }

    /// The next event, waiting for it if needed. After the end it keeps returning the final event.
    func next() async -> Event {
        if let chunk = pending {
            pending = nil
            waitingProducer?.resume()
            waitingProducer = nil
            return .chunk(chunk)
        }
        if let terminal { return terminal }
        return await withCheckedContinuation { waitingConsumer = $0 }
    }

    /// The consumer is gone: the waiting and every later ``send(_:)`` throw ``Detached``.
    func detach() {
        detached = true
        pending = nil
        waitingProducer?.resume(throwing: Detached())
        waitingProducer = nil
    }
}
