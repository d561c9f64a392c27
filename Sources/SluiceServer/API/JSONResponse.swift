import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Builds the JSON responses of the REST API (compact, keys sorted).
enum JSONResponse {
    /// A response with `value` as its JSON body.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = value.compactJSON()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A date as the API writes it: ISO 8601 in UTC with milliseconds, e.g. `2025-01-31T12:00:00.000Z`.
    static func timestamp(_ date: Date) -> JSONValue {
        .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }
}

extension Feed {
    /// The feed as the management API returns it: `{"name","feedType","description","active","kind","createdAt"}`.
    var apiJSON: JSONValue {
        .object([
            "name": .string(name),
            "feedType": .string(feedType),
            "description": .string(description),
            "active": .bool(active),
            "kind": .string(kind.rawValue),
            "createdAt": JSONResponse.timestamp(createdAt),
        ])
    }
}

extension StoredPackage {
    /// The package file as the package API lists it.
    var apiJSON: JSONValue {
        .object([
            "name": .string(name),
            "version": .string(version),
            "build": .string(build),
            "subdir": .string(subdir),
            "filename": .string(filename),
            "sha256": .string(sha256),
            "md5": .string(md5),
            "size": .int(size),
            "uploadedAt": JSONResponse.timestamp(uploadedAt),
            "uploadedBy": uploadedBy.map(JSONValue.string) ?? .null,
        ])
    }
}
