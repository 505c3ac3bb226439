package fluxj.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Shapes come from files: asking for what a shape does not have is a ModelFormatException naming the file. */
class TensorTest {
    private static Tensor shaped(long... shape) {
        return new Tensor("w", DType.F32, shape, MemorySegment.NULL, "model.safetensors");
    }

    @Test
    void dimensions() {
        Tensor t = shaped(3, 4, 5);
        assertEquals(3, t.rows());
        assertEquals(20, t.cols());
        assertEquals(5, t.dim(-1));
        assertEquals(0, shaped(0, 7).rows());
        assertEquals(7, shaped(0, 7).cols());
        assertEquals(1, shaped().rows());
        assertEquals(1, shaped().cols());
    }

    @Test
    void missingOrHugeDimensionsAreNamed() {
        var e = assertThrows(ModelFormatException.class, () -> shaped(64).dim(1));
        assertEquals("model.safetensors: tensor 'w' has shape [64], which has no dimension 1", e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> shaped(64).dim(-2));
        assertEquals("model.safetensors: tensor 'w' has shape [64], which has no dimension -2", e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> shaped(2, 1L << 31).cols());
        assertEquals("model.safetensors: tensor 'w' has shape [2, 2147483648], which is too large (a dimension or row over 2^31 - 1 elements)",
                e.getMessage());
        assertThrows(ModelFormatException.class, () -> shaped(1L << 32, 2).rows());
    }
}
