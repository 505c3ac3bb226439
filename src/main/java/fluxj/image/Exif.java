package fluxj.image;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The EXIF block AUTOMATIC1111 puts in its JPEG and WebP images to carry the parameters text (what PNGs carry in
 * their "parameters" chunk): a big-endian TIFF structure whose first IFD points to an Exif IFD holding one
 * UserComment, the text in UTF-16BE after the 8-byte "UNICODE\0" character-code header (piexif's
 * {@code UserComment.dump(text, encoding="unicode")}). Image browsers and A1111's PNG Info read it back.
 */
public final class Exif {
    private static final int EXIF_IFD_POINTER = 0x8769, USER_COMMENT = 0x9286;
    private static final int TYPE_LONG = 4, TYPE_UNDEFINED = 7;
    private static final byte[] UNICODE = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
    /** A JPEG segment holds at most 65535 bytes, its length field and the "Exif\0\0" marker included. */
    private static final int MAX_JPEG_EXIF = 65535 - 2 - 6;

    private Exif() {}

    /** The TIFF-structured EXIF data (without JPEG's "Exif\0\0" marker) holding {@code text} as the UserComment. */
    public static byte[] userComment(String text) {
        byte[] utf16 = text.getBytes(StandardCharsets.UTF_16BE);
        int header = 8, ifd = 2 + 12 + 4;
        int exifIfd = header + ifd, data = exifIfd + ifd;
        ByteArrayOutputStream b = new ByteArrayOutputStream(data + UNICODE.length + utf16.length);
        b.writeBytes(new byte[]{'M', 'M', 0, 42});
        be32(b, header);
        // IFD0: one entry, the offset of the Exif IFD; no next IFD
        be16(b, 1);
        entry(b, EXIF_IFD_POINTER, TYPE_LONG, 1, exifIfd);
        be32(b, 0);
        // Exif IFD: the UserComment, stored after it (longer than the 4 bytes an entry holds inline)
        be16(b, 1);
        entry(b, USER_COMMENT, TYPE_UNDEFINED, UNICODE.length + utf16.length, data);
        be32(b, 0);
        b.writeBytes(UNICODE);
        b.writeBytes(utf16);
        return b.toByteArray();
    }

    /** Whether one JPEG segment holds {@code exif} ({@link #intoJpeg} adds it). */
    public static boolean fitsJpeg(byte[] exif) { return exif.length <= MAX_JPEG_EXIF; }

    /**
     * {@code jpeg} with {@code exif} as an APP1 segment after its JFIF header (or after SOI without one); null when
     * the EXIF data is larger than one segment holds (parameters of more than about 32,000 characters).
     */
    public static byte[] intoJpeg(byte[] jpeg, byte[] exif) {
        if (jpeg.length < 4 || (jpeg[0] & 0xff) != 0xff || (jpeg[1] & 0xff) != 0xd8) throw new IllegalArgumentException("not a JPEG (no SOI marker)");
        if (!fitsJpeg(exif)) return null;
        int at = 2;
        if ((jpeg[2] & 0xff) == 0xff && (jpeg[3] & 0xff) == 0xe0 && jpeg.length >= 6) at = 4 + ((jpeg[4] & 0xff) << 8 | jpeg[5] & 0xff);
        if (at > jpeg.length) throw new IllegalArgumentException("not a JPEG (its APP0 segment runs past the end)");
        ByteArrayOutputStream b = new ByteArrayOutputStream(jpeg.length + exif.length + 10);
        b.write(jpeg, 0, at);
        b.write(0xff);
        b.write(0xe1);
        be16(b, 2 + 6 + exif.length);
        b.writeBytes(new byte[]{'E', 'x', 'i', 'f', 0, 0});
        b.writeBytes(exif);
        b.write(jpeg, at, jpeg.length - at);
        return b.toByteArray();
    }

    private static void entry(ByteArrayOutputStream b, int tag, int type, int count, int value) {
        be16(b, tag);
        be16(b, type);
        be32(b, count);
        be32(b, value);
    }

    private static void be16(ByteArrayOutputStream b, int v) {
        b.write(v >>> 8);
        b.write(v);
    }

    private static void be32(ByteArrayOutputStream b, int v) {
        be16(b, v >>> 16);
        be16(b, v);
    }
}
