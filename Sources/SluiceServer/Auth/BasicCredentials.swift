import Foundation
import SluiceCore

/// A user name and password from an `Authorization: Basic ...` header (RFC 7617).
struct BasicCredentials: Sendable {
    var user: String
    var password: String

    /// Parses the header value; nil when it is not the Basic scheme.
    /// - Throws: `SluiceError.unauthenticated` when it is the Basic scheme but not valid base64 `user:password`.
    init?(authorization value: String) throws(SluiceError) {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " "),
            trimmed[..<space].caseInsensitiveCompare("Basic") == .orderedSame
        else { return nil }
        let encoded = trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else {
            throw SluiceError(
                .unauthenticated, "The Authorization header is not valid HTTP Basic (base64 of user:password).")
        }
        self.user = String(decoded[..<colon])
        self.password = String(decoded[decoded.index(after: colon)...])
    }
}
