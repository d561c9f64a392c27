import Foundation

/// The one error type of Sluice.
///
/// Every failure that can reach a user is a `SluiceError`: a ``Code`` that says what kind of failure it is (and so
/// which HTTP status it becomes, decided in one place in `SluiceServer`), a message that says what went wrong and how
/// to fix it, the underlying cause if there is one, and where it was thrown.
public struct SluiceError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. A struct over a private enum, so cases can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notFound
            case invalidInput
            case invalidPackage
            case conflict
            case payloadTooLarge
            case unauthenticated
            case forbidden
            case tooManyRequests
            case rangeNotSatisfiable
            case upstreamUnavailable
            case upstreamTimeout
            case storageFailure
            case internalError
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A feed, package, file or other named thing does not exist.
        public static let notFound = Code(.notFound)
        /// A request parameter or body is malformed or out of range.
        public static let invalidInput = Code(.invalidInput)
        /// An uploaded file is not a valid conda package.
        public static let invalidPackage = Code(.invalidPackage)
        /// The request conflicts with what exists (a name taken, a file with other bytes).
        public static let conflict = Code(.conflict)
        /// A body exceeds the configured maximum.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// Credentials are missing or wrong.
        public static let unauthenticated = Code(.unauthenticated)
        /// Credentials are valid but do not grant the task.
        public static let forbidden = Code(.forbidden)
        /// Too many failed sign-ins from one client address or for one user name; retry after
        /// ``SluiceError/retryAfter`` seconds.
        public static let tooManyRequests = Code(.tooManyRequests)
        /// A byte range lies outside the file.
        public static let rangeNotSatisfiable = Code(.rangeNotSatisfiable)
        /// An upstream channel failed or answered with something unusable.
        public static let upstreamUnavailable = Code(.upstreamUnavailable)
        /// An upstream channel did not answer in time.
        public static let upstreamTimeout = Code(.upstreamTimeout)
        /// The database or blob storage failed.
        public static let storageFailure = Code(.storageFailure)
        /// A bug or an unexpected state.
        public static let internalError = Code(.internalError)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: String
    /// For ``Code-swift.struct/tooManyRequests``: how many seconds the client should wait (sent as `Retry-After`).
    public var retryAfter: Int?

    public init(
        _ code: Code,
        _ message: String,
        cause: (any Error)? = nil,
        fileID: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = "\(fileID):\(line)"
    }

    public var description: String {
        if let cause {
            return "\(code): \(message) (cause: \(cause))"
        }
        return "\(code): \(message)"
    }
}

extension SluiceError {
    public static func notFound(_ message: String, fileID: String = #fileID, line: Int = #line) -> SluiceError {
        SluiceError(.notFound, message, fileID: fileID, line: line)
    }

    public static func invalidInput(_ message: String, fileID: String = #fileID, line: Int = #line) -> SluiceError {
        SluiceError(.invalidInput, message, fileID: fileID, line: line)
    }

    public static func invalidPackage(_ message: String, fileID: String = #fileID, line: Int = #line) -> SluiceError {
        SluiceError(.invalidPackage, message, fileID: fileID, line: line)
    }

    public static func conflict(_ message: String, fileID: String = #fileID, line: Int = #line) -> SluiceError {
        SluiceError(.conflict, message, fileID: fileID, line: line)
    }

    /// A `.tooManyRequests` error telling the client to wait `retryAfter` seconds (at least 1).
    public static func tooManyRequests(
        _ message: String, retryAfter: Int, fileID: String = #fileID, line: Int = #line
    ) -> SluiceError {
        var error = SluiceError(.tooManyRequests, message, fileID: fileID, line: line)
        error.retryAfter = max(1, retryAfter)
        return error
    }
}
