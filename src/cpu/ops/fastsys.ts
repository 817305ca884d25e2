/** placeholder: filled by its group */
export {};
